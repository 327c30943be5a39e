/**
 * Smart constructors for the values that cross the trust boundary: each returns Either, and the
 * Left is a one-line CompileError that says what the rule is.
 *
 *   envKey('PATH')   // right('PATH')
 *   envKey('1X')     // left({ message: 'env key "1X" must match [A-Za-z_][A-Za-z0-9_]*' })
 */
import * as E from 'fp-ts/lib/Either.js'
import { type CompileError, compileError, show } from '../plan/errors.js'

export type Checked<A> = E.Either<CompileError, A>

const noNul = (what: string, s: string): Checked<string> =>
  s.includes('\0') ? E.left(compileError(`${what} ${show(s)} contains a NUL byte`)) : E.right(s)

const envKeyRule = /^[A-Za-z_][A-Za-z0-9_]*$/

export const envKey = (key: string): Checked<string> =>
  envKeyRule.test(key)
    ? E.right(key)
    : E.left(compileError(`env key ${show(key)} must match [A-Za-z_][A-Za-z0-9_]*`))

/**
 * Linux's limit on one argv or environment string, its terminating NUL included
 * (MAX_ARG_STRLEN, 32 pages: 131072 bytes; execve(2), "Limits on size of arguments and
 * environment"). A longer string makes exec fail with E2BIG.
 */
export const maxArgStrlen = 131072

/** `KEY=VALUE` and its NUL do not fit in one exec string: the message names the key, never the value. */
export const envStringTooBig = (key: string, value: string): boolean =>
  Buffer.byteLength(`${key}=${value}`, 'utf8') + 1 > maxArgStrlen

/**
 * Any string without NUL that fits in one exec string: the backends pass values as single argv
 * words (`-e K=V`, `--setenv K V`) or env entries (`K=V`), both under MAX_ARG_STRLEN.
 */
export const envValue = (key: string, value: string): Checked<string> => {
  if (envStringTooBig(key, value))
    return E.left(compileError(`the value of env ${key} is ${Buffer.byteLength(value, 'utf8')} bytes: ${key}=VALUE must fit in 128 KiB (Linux's limit for one argument or environment string)`))
  return noNul(`the value of env ${key}`, value)
}

// Debian's adduser default NAME_REGEX, plus `_`; also what runuser and docker -u accept by name.
const userRule = /^[a-z_][a-z0-9_-]{0,31}$/

export const userName = (user: string): Checked<string> =>
  userRule.test(user)
    ? E.right(user)
    : E.left(compileError(`user ${show(user)} must be a user name matching [a-z_][a-z0-9_-]{0,31}`))

/** HOME for the switched user; the same rule on every backend. */
export const homeOf = (user: string): string =>
  user === 'root' ? '/root' : `/home/${user}`

/** Absolute, without NUL, without `.`/`..` segments, so the same string names the same place. */
export const absolutePath = (what: string, p: string): Checked<string> => {
  if (p.includes('\0')) return E.left(compileError(`${what} ${show(p)} contains a NUL byte`))
  if (!p.startsWith('/')) return E.left(compileError(`${what} ${show(p)} must be an absolute path`))
  if (p.split('/').some((seg) => seg === '.' || seg === '..'))
    return E.left(compileError(`${what} ${show(p)} must not contain . or .. segments`))
  // `//a//b/` → `/a/b`; any run of slashes alone is the root.
  return E.right(p.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1'))
}

// An image reference or a rootfs path: never empty, never read as a flag.
const imageRule = /^[A-Za-z0-9/][A-Za-z0-9._/:@+-]*$/

export const imageRef = (image: string): Checked<string> =>
  imageRule.test(image)
    ? E.right(image)
    : E.left(compileError(`image ${show(image)} must match ${imageRule.source}`))

/**
 * The agent's binary. It is always one argv word that something execs (docker, runuser, tmux, or
 * `exec` in the resume script), never shell text, so only what would make it a flag or no word
 * is out: empty, a leading `-`, NUL.
 */
export const agentCommand = (agent: string): Checked<string> => {
  if (agent === '') return E.left(compileError('agent command must not be empty'))
  if (agent.startsWith('-'))
    return E.left(compileError(`agent command ${show(agent)} must not start with "-" (it would be read as a flag)`))
  return noNul('agent command', agent)
}

/** A bottle name as every backend can take it; each backend adds its own rule on top. */
export const bottleName = (name: string): Checked<string> => {
  if (name === '') return E.left(compileError('a bottle name is required'))
  if (name.startsWith('-'))
    return E.left(compileError(`bottle name ${show(name)} must not start with "-" (it would be read as a flag)`))
  return noNul('bottle name', name)
}

/** The script for `exec`: one argv word for `sh -c`, so only NUL is out. */
export const script = (s: string): Checked<string> => noNul('script', s)

/** An argument passed through to the agent. */
export const agentArg = (s: string): Checked<string> => noNul('agent argument', s)

// -------------------------------------------------------------------------------------------------
// Kubernetes (the spec's context, namespace and resources; only the kubernetes backend reads them)
// -------------------------------------------------------------------------------------------------

/** A kubeconfig context: kubeconfig allows almost any name (EKS uses ARNs), so only the line breaking characters are out. */
export const kubeContext = (context: string): Checked<string> =>
  context !== '' && !/[\u0000-\u001f\u007f]/.test(context)
    ? E.right(context)
    : E.left(compileError(`context ${show(context)} must be a kubeconfig context name: not empty, no control characters`))

// RFC 1123 label, as Kubernetes checks namespace and pod names (IsDNS1123Label).
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

export const isDns1123Label = (s: string): boolean => s.length <= 63 && dns1123Label.test(s)

export const kubeNamespace = (namespace: string): Checked<string> =>
  isDns1123Label(namespace)
    ? E.right(namespace)
    : E.left(compileError(`namespace ${show(namespace)} must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters`))

// A resource name as Kubernetes takes it: cpu, memory, ephemeral-storage, or a qualified name
// such as nvidia.com/gpu (an optional DNS-subdomain prefix, then a name part).
const resourceNameRule = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/

export const resourceName = (name: string): Checked<string> =>
  resourceNameRule.test(name)
    ? E.right(name)
    : E.left(compileError(`resource name ${show(name)} must be a Kubernetes resource name such as cpu, memory or nvidia.com/gpu`))

// A subset of resource.Quantity's syntax: a non-negative decimal with a binary (Ki…Ei) or decimal
// (n, u, m, k, M…E) suffix or an exponent. Stricter than Kubernetes (no sign, no trailing "."):
// whatever passes here, kubectl parses too (tests/backends/kubectl-client.test.ts checks examples).
export const quantityRule = /^(\d+(\.\d+)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/

export const quantity = (name: string, value: string): Checked<string> =>
  quantityRule.test(value)
    ? E.right(value)
    : E.left(compileError(`${name} ${show(value)} must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi`))
