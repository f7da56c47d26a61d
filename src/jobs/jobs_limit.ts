export function jobsLimit(n: number): {jobs: number; note?: string} { return { jobs: n }; }
