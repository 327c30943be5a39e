import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // tests/bwrap runs the built CLI: build it from the current source first.
    globalSetup: ['tests/build-cli.ts'],
    // Real dash/bash/bwrap processes and stand-in executables: slower than pure unit tests.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
