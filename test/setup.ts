// Runs inside workerd before each test file: every file starts from clean data.
import { beforeAll } from "vitest";
import { resetStack } from "./helpers/stack";

beforeAll(async () => {
  await resetStack();
});
