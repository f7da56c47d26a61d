export const MANIFEST_FILE_NAME = "kvbits_manifest.json";
