// Where the upstream checkout a config file belongs to starts: the folder above its
// main_pc_code/ or pc2_code/ (upstream's layout), else the file's own folder.
import { dirname, sep } from 'node:path';

export function checkoutOf(file: string): string {
  for (const marker of [`${sep}main_pc_code${sep}`, `${sep}pc2_code${sep}`]) {
    const at = file.indexOf(marker);
    if (at > 0) return file.slice(0, at);
  }
  return dirname(file);
}
