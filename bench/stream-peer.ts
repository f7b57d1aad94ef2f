/**
 * Baseline peers for bench/transfer: one file over a plain Node TCP stream, or over a
 * udx-native stream (Holepunch's reliable UDP), with the same work at both ends as a
 * Hallway transfer minus encryption: the sender streams the file from disk; the receiver
 * hashes it (SHA-256) while writing it to disk and fsyncs at the end.
 *
 *   node stream-peer.js '{"role":"receive","transport":"tcp","host":"10.203.71.2","port":7301,"out":"…"}'
 *   node stream-peer.js '{"role":"send","transport":"tcp","host":"10.203.71.2","port":7301,"file":"…"}'
 *
 * udx has no handshake: both ends name each other (`peerHost`, `peerPort`, fixed stream ids).
 * Each side prints `{"event":"listening"}` when ready (receiver) and one `{"event":"done",…}`
 * line: seconds (receiver: first byte or connection to the fsync), bytes, CPU seconds of
 * this process over the transfer, and for udx the sender's retransmission counters.
 */

import { createHash } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, fsyncSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, createServer, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { type Duplex, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

interface StreamPeerArgs {
  role: "send" | "receive";
  transport: "tcp" | "udx";
  /** Receiver's address (TCP listens there; udx binds the receiver there). */
  host: string;
  port: number;
  /** udx only: the sender's address, bound by the sender. */
  peerHost?: string;
  peerPort?: number;
  file?: string;
  out?: string;
}

/** The slice of udx-native's API used here (it ships no types). */
interface UdxStream extends Duplex {
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
  readonly retransmits: number;
  readonly packetsTransmitted: number;
  readonly bytesTransmitted: number;
  readonly mtu: number;
}
interface UdxSocket {
  bind(port: number, host: string): void;
  close(): Promise<void>;
}
interface Udx {
  createSocket(): UdxSocket;
  createStream(id: number): UdxStream;
}

const SENDER_STREAM_ID = 1;
const RECEIVER_STREAM_ID = 2;
const READ_CHUNK_BYTES = 1 << 20;

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

function loadUdx(): Udx {
  const UDX = createRequire(import.meta.url)("udx-native") as new () => Udx;
  return new UDX();
}

/** Hashes and counts what arrives while writing it to `out`; fsyncs when the source ends. */
async function receiveInto(source: NodeJS.ReadableStream, out: string): Promise<void> {
  const fd = openSync(out, "w");
  const hash = createHash("sha256");
  let bytes = 0;
  let t0: number | undefined;
  let cpu0: NodeJS.CpuUsage | undefined;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (t0 === undefined) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
      }
      bytes += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(source, tap, createWriteStream("", { fd, autoClose: false }));
  fsyncSync(fd);
  closeSync(fd);
  const seconds = t0 === undefined ? 0 : (performance.now() - t0) / 1000;
  const cpuSeconds = cpu0 === undefined ? 0 : cpuSecondsSince(cpu0);
  print({ event: "done", bytes, seconds, cpuSeconds, sha256: hash.digest("hex") });
}

async function tcp(args: StreamPeerArgs): Promise<void> {
  if (args.role === "receive") {
    const server = createServer();
    const conn = new Promise<Socket>((resolve) => server.once("connection", resolve));
    await new Promise<void>((resolve) => server.listen(args.port, args.host, resolve));
    print({ event: "listening" });
    await receiveInto(await conn, args.out as string);
    server.close();
    return;
  }
  const socket = connect(args.port, args.host);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await pipeline(createReadStream(args.file as string, { highWaterMark: READ_CHUNK_BYTES }), socket);
  print({ event: "done", seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSecondsSince(cpu0) });
}

async function udx(args: StreamPeerArgs): Promise<void> {
  const u = loadUdx();
  const socket = u.createSocket();
  const receiving = args.role === "receive";
  const [host, port] = receiving ? [args.host, args.port] : [args.peerHost, args.peerPort];
  const [peerHost, peerPort] = receiving ? [args.peerHost, args.peerPort] : [args.host, args.port];
  if (!host || !port || !peerHost || !peerPort) throw new Error("udx needs host, port, peerHost, peerPort");
  socket.bind(port, host);
  const stream = u.createStream(receiving ? RECEIVER_STREAM_ID : SENDER_STREAM_ID);
  stream.connect(socket, receiving ? SENDER_STREAM_ID : RECEIVER_STREAM_ID, peerPort, peerHost);
  if (receiving) {
    print({ event: "listening" });
    await receiveInto(stream, args.out as string);
    stream.end();
  } else {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // The stream finishes once the peer has acknowledged everything written.
    await pipeline(createReadStream(args.file as string, { highWaterMark: READ_CHUNK_BYTES }), stream);
    print({
      event: "done",
      seconds: (performance.now() - t0) / 1000,
      cpuSeconds: cpuSecondsSince(cpu0),
      retransmits: stream.retransmits,
      packetsTransmitted: stream.packetsTransmitted,
      bytesTransmitted: stream.bytesTransmitted,
      mtu: stream.mtu,
    });
  }
  await socket.close();
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? "{}") as StreamPeerArgs;
  try {
    await (args.transport === "udx" ? udx(args) : tcp(args));
    process.exit(0);
  } catch (err) {
    process.stderr.write(`stream-peer ${args.role} ${args.transport}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

await main();
