// Worker thread for `opsdeck lint`: parses and checks a share of the Python files, so a big
// checkout uses every core (tree-sitter's wasm parse and the tree copy are CPU-bound).
import { parentPort, workerData } from 'node:worker_threads';
import { lintPythonFiles, type PythonBatch } from './lint-files.js';

const batch = workerData as PythonBatch;
parentPort!.postMessage(await lintPythonFiles(batch));
