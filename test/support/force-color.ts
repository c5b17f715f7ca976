// Imported first by tests that compare styled frames: chalk (Ink's colours) decides its colour
// level once, when it is loaded, and a test's stdout is not a terminal.
process.env.FORCE_COLOR = '1';
