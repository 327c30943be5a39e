/** How many cases each property tries: more in CI, where time is cheaper than a missed case. */
export const runs = process.env.CI ? 200 : 100
