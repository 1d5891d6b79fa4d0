/** Test support shared by the workspaces; imported as TypeScript source by vitest, never published. */

export { CHROMIUM_PATH, chromiumAvailable, describeChromium, launchChromium } from './chromium.js'
