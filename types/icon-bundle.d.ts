/** The icon set @nuxt/icon generates into .nuxt at build time (used by components/app/SyncIcon.ts). */
declare module '#build/nuxt-icon-client-bundle' {
  export function init(addIcon: (name: string, data: { body: string, width?: number, height?: number, left?: number, top?: number }) => void): void
}
