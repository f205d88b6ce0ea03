/** Errors from PostgreSQL connections, with the SQLSTATE (or socket error code) that says what happened. */
export class DatabaseError extends Error {
  override name = 'DatabaseError';
  readonly code: string | undefined;

  constructor(message: string, code: string | undefined, cause?: unknown) {
    super(message, { cause });
    this.code = code;
  }

  /** Whether the settings are at fault (password, role, database name, rights), not the server. */
  get isSettingsProblem(): boolean {
    return this.code !== undefined && SETTINGS_SQLSTATES.has(this.code);
  }
}

/** Bad password, no such role or database, insufficient privilege, database already exists. */
const SETTINGS_SQLSTATES = new Set(['28P01', '28000', '3D000', '42501', '42P04']);

export function asDatabaseError(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const code = (error as { code?: string }).code;
  return new DatabaseError(error instanceof Error ? error.message : String(error), code, error);
}
