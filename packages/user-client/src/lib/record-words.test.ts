import { describe, expect, test } from "vitest";
import { formatDate, plainTitle, plainUnits, plural } from "./record-words.ts";

describe("record words", () => {
  test("UCUM units read as people write them", () => {
    expect(plainUnits("128/76 mm[Hg]")).toBe("128/76 mmHg");
    expect(plainUnits("67 mL/min/{1.73_m2}")).toBe("67 mL/min/1.73 m²");
    expect(plainUnits("24.1 kg/m2")).toBe("24.1 kg/m²");
    expect(plainUnits("37.2 Cel")).toBe("37.2 °C");
    expect(plainUnits("6.1 10*3/uL")).toBe("6.1 ×10³/µL");
    expect(plainUnits("7 {score}")).toBe("7");
    expect(plainUnits("7.4 %")).toBe("7.4 %");
  });
  test("lab names lose the laboratory's bracketed qualifiers, and keep a name when that is all there is", () => {
    expect(plainTitle("Cholesterol [Mass/volume] in Serum or Plasma")).toBe("Cholesterol in Serum or Plasma");
    expect(plainTitle("Hemoglobin A1c")).toBe("Hemoglobin A1c");
    expect(plainTitle("[Mass/volume]")).toBe("[Mass/volume]");
  });
  test("edge: no date in words; counts in words", () => {
    expect(formatDate(undefined)).toBe("No date");
    expect(formatDate("not a date")).toBe("No date");
    expect(formatDate("2025-02-18")).toMatch(/2025/);
    expect(plural(1, "record")).toBe("1 record");
    expect(plural(1200, "record")).toBe("1,200 records");
  });
});
