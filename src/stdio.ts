/**
 * bottle's own stdin, stdout and stderr as file descriptors, without node's stream objects:
 * touching `process.stdout` builds a stream (node:stream, and node:net for a pipe), and
 * `tty.isatty` loads node:tty, which loads node:net: together about a quarter of `bottle plan`'s
 * start-up. Output here is synchronous, as node's own stdout is for a file, a terminal or (on
 * Linux) a pipe, so lines still come out in the order they were written.
 *
 *   isTerminal(0)                  // true for a terminal or a pty; false for a pipe, a file, /dev/null
 *   writeAll(1, 'plan …\n')        // every byte, or throws (EPIPE when the reader has gone)
 */
import { fstatSync, writeSync } from 'node:fs'
import { loadBuiltin } from './builtin.js'

// Linux's device numbers (the kernel's Documentation/admin-guide/devices.txt): character major 1
// is the memory devices (/dev/null, /dev/zero, /dev/full, /dev/random, …), never a terminal;
// majors 136 to 143 are the Unix98 pty slaves (/dev/pts/N), always one.
const memoryDevices = 1
const ptySlaves = { first: 136, last: 143 }
/** The major number of a Linux dev_t (glibc's gnu_dev_major), exact below 2^53. */
const majorOf = (rdev: number): number => ((rdev / 256) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff)

/**
 * Whether `fd` is a terminal, what `tty.isatty(fd)` says. A terminal is a character device, so
 * anything else (a pipe, a socket, a file) is answered by one fstat; so are /dev/null and a pty
 * slave on Linux, by their device numbers. Any other character device (a console, a serial line,
 * another system's numbering) is asked of node:tty itself.
 */
export const isTerminal = (fd: number): boolean => {
  if (process.platform === 'win32') return ttyIsatty(fd)
  let st
  try {
    st = fstatSync(fd)
  } catch {
    // A closed descriptor: isatty says false too.
    return false
  }
  if (!st.isCharacterDevice()) return false
  if (process.platform === 'linux') {
    const major = majorOf(st.rdev)
    if (major === memoryDevices) return false
    if (major >= ptySlaves.first && major <= ptySlaves.last) return true
  }
  return ttyIsatty(fd)
}

// node:tty loaded only for the rare character device the numbers above do not answer.
const ttyIsatty = (fd: number): boolean => loadBuiltin<typeof import('node:tty')>('node:tty').isatty(fd)

// A descriptor another process made non-blocking can refuse a write for a moment (EAGAIN):
// wait a millisecond and write the rest, as node's own synchronous stdout does.
const pause = new Int32Array(new SharedArrayBuffer(4))

/** Writes all of `text` to `fd`, synchronously. Throws what the write throws (EPIPE, EBADF, …) but EAGAIN. */
export const writeAll = (fd: number, text: string): void => {
  const bytes = Buffer.from(text, 'utf8')
  for (let done = 0; done < bytes.length;) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e
      Atomics.wait(pause, 0, 0, 1)
    }
  }
}
