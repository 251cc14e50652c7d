/**
 * The 100-byte SQLite database header and page 1's b-tree header, read from raw bytes so that
 * a file can be judged without letting SQLite open it (an open can create -wal/-shm files).
 * Offsets from https://www.sqlite.org/fileformat2.html#the_database_header.
 */
export interface SqliteHeader {
  pageSize: number;
  /** Header bytes 18/19 are 2 in WAL mode, 1 in rollback-journal mode. */
  wal: boolean;
  /** Pages in the file per the header, when the header vouches for it (see pageCountValid). */
  pageCount: number;
  /** The in-header size is only trusted when "version-valid-for" equals the change counter. */
  pageCountValid: boolean;
  userVersion: number;
  applicationId: number;
  /** sqlite_schema (rooted on page 1) is a leaf with no cells: the database has no objects. */
  schemaEmpty: boolean;
}

/** Bytes to read: the database header plus page 1's b-tree page header. */
export const SQLITE_HEADER_BYTES = 108;

const MAGIC = Buffer.from("SQLite format 3\0", "latin1");

const LEAF_TABLE_PAGE = 0x0d;
const INTERIOR_TABLE_PAGE = 0x05;

/** The header, or why the bytes are not a SQLite database. */
export function parseSqliteHeader(bytes: Buffer): SqliteHeader | string {
  if (bytes.length < SQLITE_HEADER_BYTES) return "too short to be a SQLite database";
  if (!bytes.subarray(0, 16).equals(MAGIC)) return "not a SQLite database (bad header)";
  const rawPageSize = bytes.readUInt16BE(16);
  // The value 1 stands for 65536, which does not fit in 16 bits.
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return `invalid page size ${pageSize}`;
  const writeVersion = bytes.readUInt8(18);
  const readVersion = bytes.readUInt8(19);
  if (![1, 2].includes(writeVersion) || ![1, 2].includes(readVersion)) {
    return "invalid file format version";
  }
  // The payload fractions are fixed by the format; anything else is damage.
  if (bytes.readUInt8(21) !== 64 || bytes.readUInt8(22) !== 32 || bytes.readUInt8(23) !== 32) {
    return "invalid payload fractions";
  }
  const pageType = bytes.readUInt8(100);
  if (pageType !== LEAF_TABLE_PAGE && pageType !== INTERIOR_TABLE_PAGE) {
    return "page 1 is not a table b-tree page";
  }
  return {
    pageSize,
    wal: writeVersion === 2,
    pageCount: bytes.readUInt32BE(28),
    pageCountValid: bytes.readUInt32BE(92) === bytes.readUInt32BE(24),
    userVersion: bytes.readInt32BE(60),
    applicationId: bytes.readInt32BE(68),
    schemaEmpty: pageType === LEAF_TABLE_PAGE && bytes.readUInt16BE(103) === 0,
  };
}

/**
 * Truncation shows as a file shorter than the header's page count. Only meaningful when no
 * -wal or -journal file exists: a checkpoint or rollback interrupted by a crash legitimately
 * leaves the main file out of step with its header until SQLite recovers it.
 */
export function sizeProblem(header: SqliteHeader, fileSize: number): string | undefined {
  if (fileSize % header.pageSize !== 0) {
    return `size ${fileSize} is not a multiple of the page size ${header.pageSize} (truncated?)`;
  }
  if (header.pageCountValid && fileSize < header.pageCount * header.pageSize) {
    return `truncated: ${fileSize} bytes, the header says ${header.pageCount * header.pageSize}`;
  }
  return undefined;
}
