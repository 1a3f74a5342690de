/**
 * @module
 * Strict command-line parsing shared by the project's commands (`token`, `chat`, `bench`,
 * `chaos`): unknown options and stray arguments are errors, and parsing never throws, so each
 * command can answer bad arguments with its usage and exit status 2 instead of a stack trace.
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

type Values<O extends ParseArgsOptionsConfig> = ReturnType<
	typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>["values"];

export function parseOptions<O extends ParseArgsOptionsConfig>(argv: string[], options: O): { values: Values<O> } | { error: string } {
	try {
		return { values: parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values };
	} catch (error) {
		return { error: (error as Error).message };
	}
}

/**
 * A parse result as a command's answer: the usage on stdout and exit 0 for `--help`, the error
 * and the usage on stderr and exit 2 for bad arguments, or the parsed value to run with.
 */
export function orExit<T extends object>(parsed: T | { help: true } | { error: string }, usage: string): T {
	if ("help" in parsed) {
		console.log(usage);
		process.exit(0);
	}
	if ("error" in parsed) {
		console.error(`${parsed.error}\n\n${usage}`);
		process.exit(2);
	}
	return parsed;
}
