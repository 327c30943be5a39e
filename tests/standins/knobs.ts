/**
 * Test knobs for the stand-ins (BOTTLE_STANDIN_LOG, STANDIN_FAIL_AT, BOTTLE_KUBECTL_FAIL, …).
 * bottle hands a backend client only the host variables on its allow-list (src/plan/client-env.ts),
 * so these travel in a file in $HOME, which is on it; the stand-ins read it (not the real tools).
 *
 *   withKnobs({ HOME: root, PATH, STANDIN_FAIL_AT: '2' })   // writes $HOME/.bottle-standin-knobs.json, returns the env
 */
import { rmSync, writeFileSync } from 'node:fs'

const isKnob = (k: string): boolean => /^(BOTTLE_STANDIN_|STANDIN_|BOTTLE_KUBECTL_)/.test(k)

export const knobFileOf = (home: string): string => `${home}/.bottle-standin-knobs.json`

/** Writes the knobs in `env` where the stand-ins look (`$HOME`); no HOME, no file. */
export const withKnobs = <T extends Readonly<Record<string, string | undefined>>>(env: T): T => {
  const home = env.HOME
  if (home === undefined) return env
  const knobs = Object.fromEntries(Object.entries(env).filter(([k, v]) => isKnob(k) && v !== undefined))
  if (Object.keys(knobs).length === 0) rmSync(knobFileOf(home), { force: true })
  else writeFileSync(knobFileOf(home), JSON.stringify(knobs))
  return env
}
