import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The interpreter, CLI and bwrap tests spawn dist/bottle.js: build it from the current source first, once.
    globalSetup: ['tests/build-dist.ts'],
    // Real dash/bash/bwrap processes and stand-in executables: slower than pure unit tests.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
