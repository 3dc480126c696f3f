import { format } from 'node:util';

/**
 * Import first: n8n's Logger reads N8N_LOG_LEVEL and binds the console's methods when it is
 * created (at the first package load). Everything the node and n8n write to the console,
 * stdout or stderr from then on lands in `logged` instead; jest.restoreAllMocks() ends it.
 */
process.env.N8N_LOG_LEVEL = 'debug';
// JSON, so that log metadata is printed as well as messages.
process.env.N8N_LOG_FORMAT = 'json';

export const logged: string[] = [];

for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
	jest.spyOn(console, method).mockImplementation((...args: unknown[]) => void logged.push(format(...args)));
}
const capture = (chunk: unknown) => {
	logged.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
	return true;
};
// winston writes to console._stdout/_stderr where they exist, which under jest need not be process's.
const { _stdout, _stderr } = console as unknown as Record<string, NodeJS.WriteStream | undefined>;
for (const stream of new Set([process.stdout, process.stderr, _stdout, _stderr])) {
	if (stream) jest.spyOn(stream, 'write').mockImplementation(capture as typeof stream.write);
}
