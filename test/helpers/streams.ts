/** Stream test helpers: deterministic payloads, chunking, running a stage, running a real CLI tool. */
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Deterministic pseudo-random bytes (AES-CTR keystream), so failures reproduce. */
export function payload(size: number, seed = 1): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16)).update(Buffer.alloc(size));
}

export function split(data: Uint8Array, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(Buffer.from(data.subarray(i, i + size)));
  return chunks;
}

/** Runs `chunks` through `stage` with stream/promises pipeline and collects the output (also into `into`). */
export async function runStage(stage: Duplex, chunks: readonly Uint8Array[], into: Buffer[] = []): Promise<Buffer> {
  await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) into.push(chunk);
  });
  return Buffer.concat(into);
}

export interface ToolResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a CLI tool with `input` on stdin; resolves with its exit code and output whatever the code. */
export function runTool(
  command: string,
  args: readonly string[],
  input: Uint8Array = new Uint8Array(0),
  env: Record<string, string> = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString() }),
    );
    // A tool that fails early closes stdin (EPIPE); its exit code and stderr carry the failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
