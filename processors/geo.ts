/**
 * Great-circle distance on a spherical Earth. The haversine form is hand-written (a few lines, no
 * dependency worth taking): it is well conditioned for small distances, and because it works on
 * sin²(Δλ/2) it handles the antimeridian by itself: lon 179.9 → -179.9 is a Δλ of 0.2°, not 359.8°.
 * The spherical model is off from the WGS84 ellipsoid by at most ~0.5 %, far inside what a
 * travel-speed threshold cares about.
 */

/** IUGG mean Earth radius, km. */
export const EARTH_RADIUS_KM = 6371.0088;

const RAD = Math.PI / 180;

export interface LatLon {
  lat: number;
  lon: number;
}

/** True for finite WGS84 degrees in range; anything else is treated as "no location". */
export function isValidLatLon(lat: number | null, lon: number | null): boolean {
  return (
    lat !== null && lon !== null && Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180
  );
}

export function haversineKm(a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  // min() guards against h creeping past 1 by rounding for antipodal points.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(Math.min(1, h)));
}
