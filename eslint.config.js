// @ts-check
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.turbo/**", ".tools/**", "**/*.config.*", "**/docs/api/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
      // A file that needs more than this holds more than one concern; split it.
      "max-lines": ["error", { max: 400, skipBlankLines: false, skipComments: false }],
      // Branchy functions hide defects; past this, extract the decisions into named functions.
      complexity: ["error", 15],
    },
  },
  {
    // Tests read best as one scenario after another; size them by what they cover.
    files: ["**/*.test.ts", "**/test/**", "**/testing/**/*.contract.test.ts"],
    rules: { "max-lines": "off", complexity: "off" },
  },
  // Formatting belongs to prettier (checked by `pnpm format:check`); turn off rules that fight it.
  prettier,
);
