import Type, { type TSchema } from 'typebox'

// Shared building blocks of the typed contract (../shared/WIRE.md §4). The coercer in
// src/wire/compile-coercer.ts reads them with TypeBox's guards and refuses, when a schema is
// compiled, a union it does not know (its SUPPORTED_UNIONS).

/** A value or `null`: restored to `null` when a required field is missing on the wire. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/** A value or `false`: PHP sends `false` as `0`, so a wire `0` means `false` here. */
export const OrFalse = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Literal(false)])

/** An object without a schema (`message.params`, `context`, …): string leaves, lists where PHP has them. */
export const FreeForm = () => Type.Record(Type.String(), Type.Unknown())

/**
 * A Bitrix24 `Y`/`N` flag; a wire `1`/`0` becomes `Y`/`N`. The `title` is what tells the coercer
 * so (a standard annotation keyword, which validators such as Ajv in strict mode accept); an
 * enum that merely has the values `Y` and `N` stays an enum.
 */
export const YesNo = () => Type.Union([Type.Literal('Y'), Type.Literal('N')], { title: 'YesNo' })
