/**
 * The `bottle` executable: wires the real process to the CLI and sets the exit code.
 */
import { main } from './cli.js'

const code = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
})
process.exitCode = code
