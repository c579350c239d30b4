/**
 * The benches' seeded generator: the same seed gives the same data in every run, so figures of
 * two sittings compare the same inputs. It is the tests' mulberry32, under the benches' name.
 * @module
 */
export { seededRandom as mulberry32 } from "../src/core/testing/mod.ts";
