// Vite's `?raw` imports (a file's text), used by tests that run a checked-in migration's statements.
declare module "*.sql?raw" {
  const text: string;
  export default text;
}
