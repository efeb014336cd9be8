import Type, { type TSchema } from 'typebox'

// Shared building blocks of the typed contract (../shared/WIRE.md §4). The coercer in
// src/wire/compile-coercer.ts reads these shapes, so each helper keeps one recognisable form.

/** A value or `null`: restored to `null` when a required field is missing on the wire. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/** A value or `false`: PHP sends `false` as `0`, so a wire `0` means `false` here. */
export const OrFalse = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Literal(false)])

/** An object without a schema (`message.params`, `context`, …): string leaves, lists where PHP has them. */
export const FreeForm = () => Type.Record(Type.String(), Type.Unknown())

/** A Bitrix24 `Y`/`N` flag; a wire `1`/`0` becomes `Y`/`N`. */
export const YesNo = () => Type.Union([Type.Literal('Y'), Type.Literal('N')])

