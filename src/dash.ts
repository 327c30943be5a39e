/**
 * `bottle dash [-b BACKEND] [-f FILE]`: every bottle on every backend on one screen, each action's
 * plan one key away (docs/dashboard.md). Built as its own bundle (dist/dash.js), loaded only by
 * `bottle dash`: nothing of it is in `bottle plan`'s start-up.
 *
 *   await runDash(['-b', 'docker'], cli)   // the exit code; 2 with one line when not on a terminal
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from './backends/backend.js'
import { backends, detectionOrder } from './backends/index.js'
import type { Cli } from './cli/io.js'
import { loadManifest } from './cli/reads.js'
import { namedBackend } from './cli/spec-layers.js'
import { onPath } from './host.js'
import { oneLine } from './plan/errors.js'
import { isTerminal } from './stdio.js'
import { declaredRow } from './dash/model.js'
import { declaredRowsOf, runTerminal } from './dash/terminal.js'

const usage = 'usage: bottle dash [-b BACKEND] [-f FILE]'

/** -b and -f, each at most once; anything else is refused. */
const parseDashArgs = (words: readonly string[]): E.Either<string, { backend?: string; file?: string }> => {
  const out: { backend?: string; file?: string } = {}
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string
    const [flag, inline] = w.startsWith('--') && w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, undefined]
    const key = flag === '-b' || flag === '--backend' ? 'backend' : flag === '-f' || flag === '--file' ? 'file' : null
    if (key === null) return E.left(`dash: unknown argument '${oneLine(w)}' (${usage})`)
    const value = inline ?? words[++i]
    if (value === undefined) return E.left(`dash: ${flag} needs a value (${usage})`)
    out[key] = value
  }
  return E.right(out)
}

export const runDash = async (words: readonly string[], cli: Cli): Promise<number> => {
  const args = parseDashArgs(words)
  if (E.isLeft(args)) {
    cli.err(`bottle: ${args.left}`)
    return 2
  }
  // Keys come from stdin and the frame goes to stdout: both must be the terminal.
  if (!cli.host.stdinIsTTY || !isTerminal(1)) {
    cli.err('bottle dash needs a terminal; use bottle ls')
    return 2
  }
  const manifest = await loadManifest(args.right.file, cli.host.cwd)
  if (E.isLeft(manifest)) {
    cli.err(`bottle: ${manifest.left.message}`)
    return 2
  }
  const m = manifest.right
  // As ls: -b, else every backend on PATH; kubernetes only when named (-b, or the manifest).
  let listed: Backend[]
  if (args.right.backend !== undefined) {
    const named = namedBackend(args.right.backend, (b) => b)
    if (E.isLeft(named)) {
      cli.err(`bottle: ${named.left.message}`)
      return 2
    }
    listed = [named.right]
  } else {
    const wanted = new Set([...detectionOrder, ...(m === null ? [] : [m.backend, ...Object.values(m.bottles).map((e) => e.backend)])])
    listed = [...wanted].flatMap((n) => (n === undefined ? [] : [backends[n]])).filter((b) => onPath(b.binary, cli.env.PATH))
  }
  const declared = declaredRowsOf(m).map(({ name, backend }) => declaredRow(name, backend))
  return runTerminal(cli, { backends: listed, declared, manifest: m, cluster: { context: null, namespace: null } })
}
