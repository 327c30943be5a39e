/**
 * Copying in through a CLI whose `cp` takes one file and reads any `:` in the local path as
 * `NAME:path` (smolvm machine cp, kubectl cp): a plain file goes straight in; a file whose path
 * has a `:` is first staged at a scratch path without one; a directory travels as one tar archive,
 * unpacked by `tar` in the guest. Scratch files on the host are removed after, and undone on failure.
 *
 *   stagedCopy({ spec, copy, host, inGuest, upload, readsColonAs: 'smolvm cp reads as a machine name' })
 *   // a directory: [tar -cf SCRATCH.tar, upload, tar -xf (guest), rm (guest), rm SCRATCH.tar]
 */
import * as E from 'fp-ts/lib/Either.js'
import { compileError, show } from '../plan/errors.js'
import { sha256 } from '../plan/hash.js'
import { type Step, step } from '../plan/types.js'
import type { BottleSpec } from '../bottle-spec/spec.js'
import type { Checked } from '../bottle-spec/validate.js'
import type { CopyIn, GuestStep, HostFacts } from './backend.js'

export interface StagedCopy {
  readonly spec: BottleSpec
  readonly copy: CopyIn
  readonly host: HostFacts
  readonly inGuest: GuestStep
  /** The backend's own upload of one local file to a guest path, with a title. */
  readonly upload: (source: string, dest: string, title: string) => Step
  /** Who reads a `:` as what ("kubectl cp reads as a pod name"), for the error when TMPDIR has one. */
  readonly readsColonAs: string
  /** Said after "pack DIR" in that step's title, if anything. */
  readonly packWhy?: string
}

/** A name for scratch files that depends only on the input, so plans stay deterministic. */
const scratchName = (spec: BottleSpec, copy: CopyIn): string =>
  `bottle-cp-${sha256(JSON.stringify([spec.name, copy])).slice(0, 16)}`

export const stagedCopy = ({ spec, copy, host, inGuest, upload, readsColonAs, packWhy }: StagedCopy): Checked<Step[]> => {
  const title = `copy ${copy.source} to ${copy.dest} in the bottle`
  if (copy.kind === 'file' && !copy.source.includes(':')) return E.right([upload(copy.source, copy.dest, title)])
  if (host.tmpdir.includes(':'))
    return E.left(compileError(`the temporary directory ${show(host.tmpdir)} contains ":", which ${readsColonAs}; set TMPDIR`))
  const scratch = scratchName(spec, copy)
  const hostScratch = `${host.tmpdir}/${scratch}`
  const removeScratch = step(`remove ${hostScratch}`, ['rm', '-f', '--', hostScratch])
  if (copy.kind === 'file')
    return E.right([
      step(`stage ${copy.source} at a path without ":"`, ['cp', '--', copy.source, hostScratch], { undo: [removeScratch] }),
      upload(hostScratch, copy.dest, title),
      removeScratch,
    ])
  const guestTar = `/tmp/${scratch}.tar`
  const hostTar = `${hostScratch}.tar`
  const removeTar = step(`remove ${hostTar}`, ['rm', '-f', '--', hostTar])
  return E.right([
    step(`pack ${copy.source}${packWhy === undefined ? '' : ` (${packWhy})`}`, ['tar', '-C', copy.source, '-cf', hostTar, '.'], { undo: [removeTar] }),
    upload(hostTar, guestTar, 'upload the archive'),
    inGuest(`unpack into ${copy.dest}`, ['tar', '-xf', guestTar, '-C', copy.dest]),
    inGuest('remove the archive in the bottle', ['rm', '-f', '--', guestTar]),
    removeTar,
  ])
}
