/** Which backup or snapshot a restore asks for: the newest, the newest before a time, or one id. */
export type Selection = { kind: 'latest' } | { kind: 'before'; time: Date } | { kind: 'id'; id: string };
