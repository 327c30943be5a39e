/**
 * What the cp-out tests look at: a host tree as a list of kinds and paths, and tar archives
 * written by hand (ustar headers), so a hostile archive needs no archiver that would refuse it.
 */
import { lstatSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/** Every entry below dir, with its kind: 'f' file, 'd' directory, anything else as lstat says. */
export const treeOf = (dir: string, at = ''): string[] =>
  readdirSync(join(dir, at)).sort().flatMap((n) => {
    const rel = at === '' ? n : `${at}/${n}`
    const st = lstatSync(join(dir, rel))
    const kind = st.isFile() ? 'f' : st.isDirectory() ? 'd' : 'other'
    return [`${kind} ${rel}${st.isFile() && st.nlink > 1 ? ' (hard-linked)' : ''}`, ...(st.isDirectory() ? treeOf(dir, rel) : [])]
  })

/** A tar archive, written by hand (ustar headers), so the test needs no archiver that refuses hostile members. */
export const tarOf = (entries: readonly { name: string; type?: '0' | '1' | '2' | '3' | '5'; link?: string; data?: string }[]): Buffer => {
  const blocks: Buffer[] = []
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '')
    const h = Buffer.alloc(512)
    h.write(e.name, 0, 100)
    h.write('0000644\0', 100)
    h.write('0000000\0', 108)
    h.write('0000000\0', 116)
    h.write(`${(e.type ?? '0') === '0' ? data.length.toString(8).padStart(11, '0') : '00000000000'}\0`, 124)
    h.write('00000000000\0', 136)
    h.write('        ', 148)
    h.write(e.type ?? '0', 156)
    h.write(e.link ?? '', 157, 100)
    h.write('ustar\x0000', 257)
    if (e.type === '3') {
      h.write('0000001\0', 329)
      h.write('0000003\0', 337)
    }
    let sum = 0
    for (const b of h) sum += b
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148)
    blocks.push(h)
    if ((e.type ?? '0') === '0') blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)])
}
