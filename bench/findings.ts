/** What the numbers mean and where the time goes; kept with the code that measures it. */
export const FINDINGS = `## Where the time goes

(pending the first full run)`;
