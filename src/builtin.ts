/**
 * A node builtin module, loaded where it is first used instead of at start-up. A static import
 * becomes a require at the top of the CLI bundle, run on every start; some builtins cost a
 * millisecond or more to load (node:module, node:os, node:util's parseArgs on this project's
 * build machine), which `bottle plan` start-up pays even when the code that uses them never runs.
 *
 *   loadBuiltin<typeof import('node:tty')>('node:tty').isatty(2)
 */

/** process.getBuiltinModule (node 20.16 and later); before it, the CommonJS bundle's own require. */
export const loadBuiltin = <T>(id: `node:${string}`): T => {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle is CommonJS (scripts/build.mjs)
  return (get !== undefined ? get(id) : require(id)) as T
}
