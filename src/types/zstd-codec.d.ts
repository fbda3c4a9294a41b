// zstd-codec ships no types; only what mqbak uses is declared here.
declare module 'zstd-codec' {
  export interface ZstdSimple {
    compress(data: Uint8Array, level?: number): Uint8Array | null;
    decompress(data: Uint8Array): Uint8Array | null;
  }
  export interface ZstdBinding {
    Simple: new () => ZstdSimple;
  }
  export const ZstdCodec: { run(callback: (zstd: ZstdBinding) => void): void };
}
