/// <reference path="./.sst/platform/config.d.ts" />
// Deploy: `npx sst@3 deploy --stage production` (see README, "Deploy to AWS").
export default $config({
  app(input) {
    return {
      name: 'flotilla',
      home: 'aws',
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      protect: input?.stage === 'production',
    };
  },
  async run() {
    const { deployControlPlane } = await import('./infra/control-plane.ts');
    return deployControlPlane();
  },
});
