/** Where an agent is. */
export type Location =
  | { readonly kind: 'private'; readonly site: string }
  | { readonly kind: 'cloud'; readonly provider: string; readonly region: string; readonly zone: string };

export function formatLocation(location: Location): string {
  return location.kind === 'private' ? `private:${location.site}` : `${location.provider}:${location.zone}`;
}
