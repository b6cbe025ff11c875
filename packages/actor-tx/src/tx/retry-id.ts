/**
 * Wait-die orders transactions by age, read from their ids: a smaller id is older, and a younger
 * transaction that finds an older one holding a participant dies. A transaction run again after
 * dying keeps the age of its first attempt, or it would come back younger than every transaction
 * started meanwhile and could die again and again (starve). Each attempt still needs an id of its
 * own (the decision record and the participants' locks are keyed by it), so attempt `n` is the
 * first attempt's id followed by `.n`: it sorts right after that id and before any id that
 * differs from it earlier (every later transaction's).
 */
export function retryTxId(firstId: string, attempt: number): string {
  if (attempt === 0) return firstId;
  // Fixed width, so attempts sort in order among themselves too.
  return `${firstId}.${attempt.toString(36).padStart(4, "0")}`;
}
