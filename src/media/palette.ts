/**
 * RGB to the xterm 256-colour palette: the 6×6×6 cube (indices 16–231, levels 0, 95, 135,
 * 175, 215, 255) and the grey ramp (232–255, 8 + 10·i), whichever is nearer. The 16 system
 * colours are left out: terminals theme them, so their RGB is unknown.
 */

const CUBE = [0, 95, 135, 175, 215, 255];

function cubeStep(v: number): number {
  return v < 48 ? 0 : v < 115 ? 1 : Math.min(5, Math.floor((v - 35) / 40));
}

/** The palette index nearest to the colour (squared RGB distance). */
export function xterm256(r: number, g: number, b: number): number {
  const ri = cubeStep(r);
  const gi = cubeStep(g);
  const bi = cubeStep(b);
  const cr = CUBE[ri] as number;
  const cg = CUBE[gi] as number;
  const cb = CUBE[bi] as number;
  const cubeDist = (r - cr) ** 2 + (g - cg) ** 2 + (b - cb) ** 2;
  const avg = (r + g + b) / 3;
  const grey = avg > 238 ? 23 : Math.max(0, Math.round((avg - 8) / 10));
  const gv = 8 + 10 * grey;
  const greyDist = (r - gv) ** 2 + (g - gv) ** 2 + (b - gv) ** 2;
  return greyDist < cubeDist ? 232 + grey : 16 + 36 * ri + 6 * gi + bi;
}
