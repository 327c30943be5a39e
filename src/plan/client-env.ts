/**
 * The host variables a backend client (docker, podman, smolvm, kubectl, tmux, sh) is started
 * with: the one list, so what reaches a host process is read in one place.
 *
 *   clientEnv({ PATH: '/usr/bin', LD_PRELOAD: '/tmp/x.so', DOCKER_HOST: 'unix:///s' })
 *   // { PATH: '/usr/bin', DOCKER_HOST: 'unix:///s' }
 *
 * Nothing here comes from the spec: a step adds the named secrets it needs (plan `env.vars`), and
 * plain spec env goes to the guest through the backend's own flag (docker `-e K=V`), never into
 * the client's environment, where a value like LD_PRELOAD would run code on the host.
 */

/** Each name with why a client needs it. */
const allowed: Readonly<Record<string, string>> = {
  PATH: 'finding the client and the programs it runs (credential helpers, sh, tar)',
  HOME: 'the client\'s config and state: ~/.docker, ~/.kube, ~/.config/containers, smolvm\'s machines',
  USER: 'some clients name the user\'s own files by it (rootless podman)',
  LOGNAME: 'as USER, on systems that set this one',
  TMPDIR: 'where clients write scratch files',
  XDG_RUNTIME_DIR: 'rootless podman\'s and docker\'s sockets, tmux\'s default socket directory',
  XDG_CONFIG_HOME: 'where podman and others keep their config',
  XDG_DATA_HOME: 'rootless podman\'s image store',
  TERM: 'tmux and an interactive exec describe the user\'s terminal by it',
  LANG: 'the language of the client\'s messages',
  LANGUAGE: 'as LANG',
  DOCKER_HOST: 'docker: the engine to talk to',
  DOCKER_CONTEXT: 'docker: the named context (engine and TLS) to use',
  DOCKER_CONFIG: 'docker: where its config and credentials are',
  DOCKER_TLS_VERIFY: 'docker: TLS to a remote engine',
  DOCKER_CERT_PATH: 'docker: the certificates for TLS',
  DOCKER_API_VERSION: 'docker: a pinned API version for an older engine',
  SSH_AUTH_SOCK: 'docker and podman with an ssh:// engine',
  CONTAINER_HOST: 'podman: a remote service to talk to',
  CONTAINER_CONNECTION: 'podman: a named remote connection',
  CONTAINERS_CONF: 'podman: containers.conf',
  CONTAINERS_STORAGE_CONF: 'podman: storage.conf',
  CONTAINERS_REGISTRIES_CONF: 'podman: registries.conf',
  REGISTRY_AUTH_FILE: 'podman: registry credentials',
  KUBECONFIG: 'kubectl: which kubeconfig files to read',
  // kubectl runs the kubeconfig's exec credential plugins with its own environment.
  AWS_PROFILE: 'kubectl exec plugin for EKS (aws eks get-token)',
  AWS_REGION: 'as AWS_PROFILE',
  AWS_DEFAULT_REGION: 'as AWS_PROFILE',
  AWS_CONFIG_FILE: 'as AWS_PROFILE',
  AWS_SHARED_CREDENTIALS_FILE: 'as AWS_PROFILE',
  CLOUDSDK_CONFIG: 'kubectl exec plugin for GKE (gke-gcloud-auth-plugin)',
  GOOGLE_APPLICATION_CREDENTIALS: 'as CLOUDSDK_CONFIG',
  AZURE_CONFIG_DIR: 'kubectl exec plugin for AKS (kubelogin)',
  HTTP_PROXY: 'reaching a remote engine or cluster through the host\'s proxy',
  HTTPS_PROXY: 'as HTTP_PROXY',
  NO_PROXY: 'as HTTP_PROXY',
  http_proxy: 'as HTTP_PROXY, the spelling some tools read',
  https_proxy: 'as HTTP_PROXY',
  no_proxy: 'as HTTP_PROXY',
  TMUX: 'tmux: the server the user is in (attach opens its pane there)',
  TMUX_TMPDIR: 'tmux: where its sockets are',
}

/** The allowed names, and `LC_*` (the locale categories, e.g. LC_ALL, LC_CTYPE). */
export const isClientVar = (name: string): boolean => Object.hasOwn(allowed, name) || /^LC_[A-Z]+$/.test(name)

/** The allowed host variables that are set, and nothing else. */
export const clientEnv = (hostEnv: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(hostEnv)) if (v !== undefined && isClientVar(k)) env[k] = v
  return env
}
