import { MalformedBodyError } from '../errors.ts'

/** The form body is not what a PHP receiver would accept, or it breaks a parser limit (400). */
export class FormParseError extends MalformedBodyError {}
