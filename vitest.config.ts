import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Real dash/bash/bwrap processes and stand-in executables: slower than pure unit tests.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
