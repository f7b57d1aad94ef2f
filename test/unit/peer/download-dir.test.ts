/** Where received files go by default: XDG_DOWNLOAD_DIR, the user-dirs.dirs entry, ~/Downloads. */

import { describe, expect, it } from "vitest";
import { defaultDownloadDir, userDirsDownload } from "../../../src/peer/download-dir.js";

const HOME = "/home/ann";
const noFile = (): string => {
  throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
};

describe("default download folder", () => {
  it("is XDG_DOWNLOAD_DIR when set to an absolute path", () => {
    expect(defaultDownloadDir({ XDG_DOWNLOAD_DIR: "/data/dl" }, HOME, noFile)).toBe("/data/dl");
    expect(defaultDownloadDir({ XDG_DOWNLOAD_DIR: "relative" }, HOME, noFile)).toBe("/home/ann/Downloads");
  });

  it("else the user-dirs.dirs entry, in the user's language, under XDG_CONFIG_HOME", () => {
    const text = '# comment\nXDG_DESKTOP_DIR="$HOME/Bureau"\nXDG_DOWNLOAD_DIR="$HOME/Téléchargements"\n';
    const read = (path: string) => {
      expect(path).toBe("/cfg/user-dirs.dirs");
      return text;
    };
    expect(defaultDownloadDir({ XDG_CONFIG_HOME: "/cfg" }, HOME, read)).toBe("/home/ann/Téléchargements");
    expect(userDirsDownload('XDG_DOWNLOAD_DIR="/srv/in \\"box\\""', HOME)).toBe('/srv/in "box"');
  });

  it("else ~/Downloads; a disabled entry ($HOME itself) does not count", () => {
    expect(defaultDownloadDir({}, HOME, noFile)).toBe("/home/ann/Downloads");
    expect(defaultDownloadDir({}, HOME, () => 'XDG_DOWNLOAD_DIR="$HOME/"')).toBe("/home/ann/Downloads");
    expect(defaultDownloadDir({}, HOME, () => 'XDG_DOWNLOAD_DIR="$HOME"')).toBe("/home/ann/Downloads");
  });
});
