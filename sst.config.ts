/// <reference path="./.sst/platform/config.d.ts" />
// Deploy with SST v4: `npm run deploy -- --stage production` (builds dist/lambda, then `sst deploy`;
// see README, "Deploy to AWS"). The stage named production keeps its data: resources are retained
// on removal and protected, and its table has deletion protection (infra/definitions.ts).
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
