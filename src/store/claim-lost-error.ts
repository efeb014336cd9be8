/** Why a claim's `lost` signal fired: the claim lapsed and another holder may handle the record now. */
export class ClaimLostError extends Error {
  readonly inboxId: number

  constructor(inboxId: number) {
    super(`the claim on inbox record ${inboxId} was lost: it lapsed unrenewed, and another holder may be handling the record`)
    this.name = 'ClaimLostError'
    this.inboxId = inboxId
  }
}
