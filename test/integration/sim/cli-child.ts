// Runs the CLI in its own process, as the console's demo will start `opsdeck sim` (signals included).
import { main } from '../../../source/cli.js';

process.exitCode = await main(process.argv.slice(2));
