// Headless Chromium for report tests: the page's DOM after its scripts ran, and a
// screenshot decoded to pixels. Every host name resolves to nothing (but 127.0.0.1, for
// the live view's local server) and any proxy use goes to a closed loopback port, so the
// browser cannot reach the network.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';

const run = promisify(execFile);
export const CHROMIUM = process.env.ORDEAL_CHROMIUM ?? '/usr/bin/chromium';

function flags(profile: string): string[] {
  return ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--no-default-browser-check', '--hide-scrollbars', '--mute-audio',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--proxy-server=http://127.0.0.1:9', '--dns-prefetch-disable',
    `--user-data-dir=${profile}`, '--virtual-time-budget=10000'];
}

async function withProfile<T>(fn: (profile: string) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'ordeal-chromium-'));
  try {
    return await fn(profile);
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** A file path, or an http:// URL (a loopback server: the proxy flags leave loopback alone). */
const target = (pathOrUrl: string) => (/^https?:\/\//.test(pathOrUrl) ? pathOrUrl : pathToFileURL(pathOrUrl).href);

export async function dumpDom(htmlPath: string): Promise<string> {
  return withProfile(async (profile) => {
    const { stdout } = await run(CHROMIUM, [...flags(profile), '--dump-dom', target(htmlPath)],
      { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  });
}

export async function screenshot(htmlPath: string, pngPath: string, size = '1280,1300'): Promise<Png> {
  return withProfile(async (profile) => {
    await run(CHROMIUM, [...flags(profile), `--screenshot=${pngPath}`, `--window-size=${size}`, target(htmlPath)],
      { timeout: 120_000 });
    return decodePng(readFileSync(pngPath));
  });
}

export interface Png { width: number; height: number; channels: number; data: Buffer }

/** 8-bit RGB/RGBA, non-interlaced: what Chromium writes. */
export function decodePng(buf: Buffer): Png {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8;
  let width = 0, height = 0, colorType = 0, depth = 0, interlace = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const body = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0); height = body.readUInt32BE(4); depth = body[8]!; colorType = body[9]!; interlace = body[12]!;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  if (depth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0) {
    throw new Error(`unsupported PNG: depth ${depth}, color type ${colorType}, interlace ${interlace}`);
  }
  const channels = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? out.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? row[x - channels]! : 0;
      const b = prev[x]!;
      const c = x >= channels ? prev[x - channels]! : 0;
      let v = src[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[x] = v & 0xff;
    }
  }
  return { width, height, channels, data: out };
}

/** Pixels within `tolerance` of an RGB colour, optionally inside a y range. */
export function countColor(png: Png, rgb: [number, number, number], tolerance = 6, yFrom = 0, yTo = png.height): number {
  let n = 0;
  for (let y = yFrom; y < Math.min(yTo, png.height); y++) {
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * png.channels;
      if (Math.abs(png.data[i]! - rgb[0]) <= tolerance && Math.abs(png.data[i + 1]! - rgb[1]) <= tolerance
        && Math.abs(png.data[i + 2]! - rgb[2]) <= tolerance) n++;
    }
  }
  return n;
}
