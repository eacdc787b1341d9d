// A valid return.approved event to mutate in tests. Each call returns a fresh deep copy.
export function validEvent(): Record<string, unknown> & { data: Record<string, unknown> } {
  return {
    specversion: "1.0",
    id: "evt-0001",
    source: "urn:returns-platform:test",
    type: "return.approved",
    time: "2026-03-02T14:05:09Z",
    datacontenttype: "application/json",
    data: {
      returnId: "RMA-1",
      orderId: "ORD-1",
      paymentIntentId: "pi_sandbox_abc123",
      amount: { value: 1299, currencyCode: "GBP" },
      reason: "Damaged in transit",
      approvedAt: "2026-03-02T14:05:03Z",
      lines: [
        { sku: "MUG-1", quantity: 1, amount: { value: 999, currencyCode: "GBP" } },
        { sku: "SHIP", quantity: 1, amount: { value: 300, currencyCode: "GBP" } },
      ],
      metadata: { channel: "web" },
    },
  };
}

export const structured = (value: unknown) => ({
  body: JSON.stringify(value),
  headers: { "content-type": "application/cloudevents+json" },
  transport: "kafka" as const,
});
