import fc from "fast-check";

/** Short texts of base64's characters, both alphabets, padding, white space and a few strangers. */
export const nearBase64 = fc.string({
  unit: fc.constantFrom(..."AQgw+/-_=  \n\t$é.%".split(""), ..."ABCabc019".split("")),
  maxLength: 24,
});
