/** `express4` is Express 4 installed under another name (`npm:express@^4`), to test both majors; it has Express's API. */
declare module 'express4' {
  export { default } from 'express'
}
