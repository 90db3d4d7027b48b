// Reads claims from JWTs this source holds, without verifying them: the registry and Entra ID verify
// their own tokens; here the claims only say when to refresh and which tenant to name.

/** The payload of a compact JWT (`header.payload.signature`), or undefined when it is not one. */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return typeof payload === "object" && payload !== null && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The `exp` claim (seconds since the epoch) as a Date, or undefined when absent or not a sane number. */
export function jwtExpiry(token: string): Date | undefined {
  const exp = jwtClaims(token)?.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp) || exp <= 0) return undefined;
  const date = new Date(exp * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The `tid` claim of an Entra access token: the tenant that issued it. */
export function jwtTenant(token: string): string | undefined {
  const tid = jwtClaims(token)?.tid;
  return typeof tid === "string" && /^[A-Za-z0-9.-]+$/.test(tid) ? tid : undefined;
}
