// Typed GraphQL documents: every `graphql(...)` in src/ is checked against the committed
// schema.graphql; a schema change that breaks a document fails `npm run build`.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  errorsOnly: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        enumsAsTypes: true,
        scalars: { DateTime: "string", ID: "string" },
        useTypeImports: true,
      },
    },
  },
};

export default config;
