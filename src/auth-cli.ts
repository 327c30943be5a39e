/**
 * `bottle plan|run auth import [-b BACKEND] [--agent claude|codex] [--force]`: the CLI's side of
 * the host-only op (src/auth.ts compiles it). It names no bottle, so it does not go through
 * planFor: it reads the manifest only for its backend, the kinds of the two files, and compiles.
 *
 *   await authOp(request, cli)   // 0 after the copy; 2, one line, when there is nothing to copy
 */
import * as E from 'fp-ts/lib/Either.js'
import { compileAuthImport, hostCredentials, isSignInAgent, sharedCredentials } from './auth.js'
import { defaultCluster } from './backends/backend.js'
import { readHostFacts } from './host.js'
import { show } from './plan/errors.js'
import { type Format, render } from './plan/render.js'
import type { Request } from './cli/request.js'
import type { Cli } from './cli/io.js'
import { exitInvalid } from './cli/exit.js'
import { loadManifest } from './cli/reads.js'
import { chooseBackend } from './cli/spec-layers.js'
import { runAndSay } from './cli/run.js'

export const authOp = async (req: Request, io: Cli): Promise<number> => {
  const refuse = (message: string): number => {
    io.err(`bottle: ${message}`)
    return exitInvalid
  }
  const [action, ...rest] = req.positional
  if (action !== 'import' || rest.length > 0)
    return refuse(`auth takes one action, import, not ${show(req.positional.join(' '))} (bottle run auth import -b docker)`)
  const agent = req.flags.agent ?? 'claude'
  if (!isSignInAgent(agent)) return refuse(`auth import: --agent ${show(agent)}: bottle knows where claude and codex keep their sign-in, not other agents`)
  const manifest = await loadManifest(req.flags.file, io.host.cwd)
  if (E.isLeft(manifest)) return refuse(manifest.left.message)
  const chosen = chooseBackend(req.flags.backend, manifest.right?.backend, io.env)
  if (E.isLeft(chosen)) return refuse(chosen.left.message)
  const backend = chosen.right.backend.name
  // Kinds only (lstat-like, nothing walked or opened): the target is in a directory bottles write.
  const paths = [hostCredentials(io.host.home, agent), sharedCredentials(io.host.stateRoot, backend, agent)]
  const facts = readHostFacts([], {}, defaultCluster, io.host, paths)
  const compiled = compileAuthImport(chosen.right.backend, { agent, force: req.flags.force === true }, facts)
  if (E.isLeft(compiled)) return refuse(compiled.left.message)
  const plan = { ...compiled.right, notes: [...compiled.right.notes, { _tag: 'backend' as const, backend, why: chosen.right.why }] }
  if (req.mode === 'plan') {
    io.out(render(plan, req.flags.format as Format))
    return 0
  }
  return runAndSay(plan, req.flags.quiet === true, io)
}
