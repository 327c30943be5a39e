/** The egress door on the real docker engine and podman (tests/engines/egress.ts): see scripts/test-engines.sh. */
import { egressSuite } from './egress.js'

egressSuite('docker')
egressSuite('podman')
