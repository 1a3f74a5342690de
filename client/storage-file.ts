/**
 * @module
 * An outbox kept in files, for Node apps and the terminal client: one JSON file per key in a
 * folder, replaced atomically (write a temporary file, then rename), so a crash mid-write
 * leaves either the old outbox or the new one, never half of one.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { OutboxStorage } from "./storage.ts";

function fileName(key: string): string {
	return `${encodeURIComponent(key).replace(/%/g, "_")}.json`;
}

export function fileStorage(folder: string): OutboxStorage {
	mkdirSync(folder, { recursive: true });
	return {
		get(key) {
			try {
				return readFileSync(join(folder, fileName(key)), "utf8");
			} catch (error) {
				if ((error as { code?: unknown }).code === "ENOENT") return undefined;
				throw error;
			}
		},
		set(key, value) {
			const path = join(folder, fileName(key));
			const temporary = `${path}.${process.pid}.tmp`;
			writeFileSync(temporary, value);
			renameSync(temporary, path);
		},
		delete(key) {
			rmSync(join(folder, fileName(key)), { force: true });
		},
	};
}
